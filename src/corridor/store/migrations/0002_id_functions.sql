-- Version 2: convert 128-bit ids between the stored 16-byte big-endian bytea and numbers,
-- for auditors' ad-hoc SQL:
--   SELECT * FROM transfers WHERE id = corridor_id(12345);
--   SELECT corridor_id_numeric(debit_account_id), amount FROM transfers LIMIT 10;

CREATE FUNCTION corridor_id(value numeric) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    out bytea := '\x00000000000000000000000000000000'::bytea;
    rest numeric := value;
BEGIN
    IF value < 0 OR value >= 2::numeric ^ 128 OR value <> trunc(value) THEN
        RAISE EXCEPTION 'corridor_id: % is not a 128-bit unsigned integer', value;
    END IF;
    FOR position IN REVERSE 15..0 LOOP
        out := set_byte(out, position, mod(rest, 256)::integer);
        rest := div(rest, 256);
    END LOOP;
    RETURN out;
END
$$;

CREATE FUNCTION corridor_id_numeric(value bytea) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    out numeric := 0;
BEGIN
    FOR position IN 0..octet_length(value) - 1 LOOP
        out := out * 256 + get_byte(value, position);
    END LOOP;
    RETURN out;
END
$$;

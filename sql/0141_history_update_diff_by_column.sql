-- History per statement, continued (issue 13): the changed fields of a large UPDATE
-- statement by comparing the columns, not the two jsonb snapshots key by key. The
-- jsonb diff (every key of both snapshots looked up and compared, ~20 us a row) was
-- half of what history added to a bulk update: updating 20,000 manholes took 1.1 s
-- with history and 0.38 s without. The columns compared are the snapshot's own (the
-- geometry as its GeoJSON, so a geometry counts as changed exactly when its GeoJSON
-- does) with IS DISTINCT FROM, which for these types agrees with comparing their jsonb
-- values; the list is sorted by name in the database's collation like the jsonb
-- diff's keys, and leaves out the same bookkeeping fields. Small statements keep 0022's per-row diff (0111);
-- tests/test_history_statements.py checks both paths give the same entries.
--
-- registry_history_statement() is replaced whole (a migration cannot edit 0111's): the
-- only change is the `changed` expression of the large UPDATE path.

-- The `changed` expression over the paired images x (new) and b (old) of a row of
-- `tbl`, as registry_history_statement's large UPDATE builds them.
CREATE FUNCTION registry_history_changed_expr(tbl regclass) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'array_remove(ARRAY['
        || COALESCE(string_agg(format('CASE WHEN x.%1$I IS DISTINCT FROM b.%1$I THEN %2$L END',
                                      a.attname, a.attname::text), ', '
                                 ORDER BY a.attname::text COLLATE "default"), '')
        || ']::text[], NULL)'
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname::text NOT IN ('version', 'updated_at', 'updated_by', 'created_at', 'created_by')
$$;

CREATE OR REPLACE FUNCTION registry_history_statement() RETURNS trigger
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    at_ timestamptz := clock_timestamp();
    actor_ text := registry_actor();
    via_ text := COALESCE(NULLIF(current_setting('registry.via', true), ''), 'sql');
    comment_ text := NULLIF(current_setting('registry.comment', true), '');
    is_child boolean := TG_NARGS > 0;
    parent_id text;
    layer_expr text;
    ident text;
    version_expr text;
    action_expr text;
    cols_new text;
    cols_old text;
    written bigint;
    rows_ bigint;
BEGIN
    -- Small statements (every API and map edit): static SQL, planned once per session
    -- and table, with the per-row snapshot and diff functions of 0010/0022 -- the same
    -- values the generated SQL below produces for large ones.
    IF TG_OP = 'DELETE' THEN
        SELECT count(*) INTO rows_ FROM registry_old_rows;
    ELSE
        SELECT count(*) INTO rows_ FROM registry_new_rows;
    END IF;
    IF rows_ = 0 THEN
        RETURN NULL;
    END IF;
    IF is_child OR rows_ < 32 THEN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO asset_history (asset_id, layer, child_table, child_id, action, actor, via, comment,
                                       at, version, before, after, changed)
            SELECT CASE WHEN is_child THEN (s.a ->> TG_ARGV[0])::uuid ELSE n.id END,
                   CASE WHEN NOT is_child THEN TG_TABLE_NAME::text
                        WHEN TG_ARGV[1] = '' THEN s.a ->> 'layer' ELSE TG_ARGV[1] END,
                   CASE WHEN is_child THEN TG_TABLE_NAME::text END,
                   CASE WHEN is_child THEN n.id END,
                   'create', actor_, via_, comment_, at_,
                   CASE WHEN is_child THEN NULL ELSE (s.a ->> 'version')::integer END,
                   NULL, s.a, registry_history_diff(NULL, s.a)
            FROM registry_new_rows n,
                 LATERAL (SELECT CASE WHEN is_child THEN to_jsonb(n) ELSE registry_history_snapshot(n) END AS a) s;
        ELSIF TG_OP = 'DELETE' THEN
            INSERT INTO asset_history (asset_id, layer, child_table, child_id, action, actor, via, comment,
                                       at, version, before, after, changed)
            SELECT CASE WHEN is_child THEN (s.b ->> TG_ARGV[0])::uuid ELSE o.id END,
                   CASE WHEN NOT is_child THEN TG_TABLE_NAME::text
                        WHEN TG_ARGV[1] = '' THEN s.b ->> 'layer' ELSE TG_ARGV[1] END,
                   CASE WHEN is_child THEN TG_TABLE_NAME::text END,
                   CASE WHEN is_child THEN o.id END,
                   'delete', actor_, via_, comment_, at_,
                   CASE WHEN is_child THEN NULL ELSE (s.b ->> 'version')::integer END,
                   s.b, NULL, registry_history_diff(s.b, NULL)
            FROM registry_old_rows o,
                 LATERAL (SELECT CASE WHEN is_child THEN to_jsonb(o) ELSE registry_history_snapshot(o) END AS b) s;
        ELSE
            INSERT INTO asset_history (asset_id, layer, child_table, child_id, action, actor, via, comment,
                                       at, version, before, after, changed)
            SELECT CASE WHEN is_child THEN (s.a ->> TG_ARGV[0])::uuid ELSE n.id END,
                   CASE WHEN NOT is_child THEN TG_TABLE_NAME::text
                        WHEN TG_ARGV[1] = '' THEN s.a ->> 'layer' ELSE TG_ARGV[1] END,
                   CASE WHEN is_child THEN TG_TABLE_NAME::text END,
                   CASE WHEN is_child THEN n.id END,
                   CASE WHEN is_child THEN 'update'
                        WHEN (s.b ->> 'deleted_at') IS NULL AND (s.a ->> 'deleted_at') IS NOT NULL THEN 'delete'
                        WHEN (s.b ->> 'deleted_at') IS NOT NULL AND (s.a ->> 'deleted_at') IS NULL THEN 'restore'
                        ELSE 'update' END,
                   actor_, via_, comment_, at_,
                   CASE WHEN is_child THEN NULL ELSE (s.a ->> 'version')::integer END,
                   s.b, s.a, registry_history_diff(s.b, s.a)
            FROM registry_new_rows n JOIN registry_old_rows o ON o.id = n.id,
                 LATERAL (SELECT CASE WHEN is_child THEN to_jsonb(o) ELSE registry_history_snapshot(o) END AS b,
                                 CASE WHEN is_child THEN to_jsonb(n) ELSE registry_history_snapshot(n) END AS a) s;
            GET DIAGNOSTICS written = ROW_COUNT;
            IF written <> rows_ THEN
                RAISE EXCEPTION 'the id of a % record cannot change (its history would lose the row)', TG_TABLE_NAME
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'history_id_immutable';
            END IF;
        END IF;
        RETURN NULL;
    END IF;
    IF is_child THEN
        parent_id := format('x.%I', TG_ARGV[0]);
        layer_expr := CASE WHEN TG_ARGV[1] = '' THEN 'x.layer' ELSE quote_literal(TG_ARGV[1]) END;
        ident := 'x.id';
        version_expr := 'NULL::integer';
    ELSE
        parent_id := 'x.id';
        layer_expr := quote_literal(TG_TABLE_NAME);
        ident := 'NULL::uuid';
        version_expr := 'x.version';
    END IF;
    IF TG_OP = 'INSERT' THEN
        cols_new := registry_history_select_list(TG_RELID, 'n');
        EXECUTE format(
            'INSERT INTO asset_history (asset_id, layer, child_table, child_id, action, actor, via, comment, '
            '                           at, version, before, after, changed) '
            'SELECT %s, %s, $1, %s, ''create'', $2, $3, $4, $5, %s, NULL, to_jsonb(x), $6 '
            'FROM (SELECT %s FROM registry_new_rows n OFFSET 0) x',
            parent_id, layer_expr, ident, version_expr, cols_new)
        USING CASE WHEN is_child THEN TG_TABLE_NAME::text END, actor_, via_, comment_, at_,
              registry_history_all_fields(TG_RELID);
    ELSIF TG_OP = 'DELETE' THEN
        -- a hard DELETE (only ever done directly in SQL): the record is gone
        cols_old := registry_history_select_list(TG_RELID, 'o');
        EXECUTE format(
            'INSERT INTO asset_history (asset_id, layer, child_table, child_id, action, actor, via, comment, '
            '                           at, version, before, after, changed) '
            'SELECT %s, %s, $1, %s, ''delete'', $2, $3, $4, $5, %s, to_jsonb(x), NULL, $6 '
            'FROM (SELECT %s FROM registry_old_rows o OFFSET 0) x',
            parent_id, layer_expr, ident, version_expr, cols_old)
        USING CASE WHEN is_child THEN TG_TABLE_NAME::text END, actor_, via_, comment_, at_,
              registry_history_all_fields(TG_RELID);
    ELSE
        -- Old and new images are paired by id. A layer row's id cannot change (the
        -- before-write trigger keeps it); a child's could, and would leave a row
        -- unpaired: refused below, so no write goes unrecorded.
        cols_new := registry_history_select_list(TG_RELID, 'n');
        cols_old := registry_history_select_list(TG_RELID, 'o');
        -- a soft delete or restore of an asset is an UPDATE of deleted_at
        action_expr := CASE WHEN is_child THEN '''update''' ELSE
            'CASE WHEN b.deleted_at IS NULL AND x.deleted_at IS NOT NULL THEN ''delete'' '
            '     WHEN b.deleted_at IS NOT NULL AND x.deleted_at IS NULL THEN ''restore'' '
            '     ELSE ''update'' END' END;
        EXECUTE format(
            'INSERT INTO asset_history (asset_id, layer, child_table, child_id, action, actor, via, comment, '
            '                           at, version, before, after, changed) '
            'SELECT %s, %s, $1, %s, '
            '       %s, '
            '       $2, $3, $4, $5, %s, b.j, x.j, %s '
            'FROM (SELECT r.*, to_jsonb(r) AS j FROM (SELECT %s FROM registry_new_rows n OFFSET 0) r OFFSET 0) x '
            'JOIN (SELECT r.*, to_jsonb(r) AS j FROM (SELECT %s FROM registry_old_rows o OFFSET 0) r OFFSET 0) b '
            'ON b.id = x.id',
            parent_id, layer_expr, ident, action_expr, version_expr, registry_history_changed_expr(TG_RELID),
            cols_new, cols_old)
        USING CASE WHEN is_child THEN TG_TABLE_NAME::text END, actor_, via_, comment_, at_;
        GET DIAGNOSTICS written = ROW_COUNT;
        IF written <> rows_ THEN
            RAISE EXCEPTION 'the id of a % record cannot change (its history would lose the row)', TG_TABLE_NAME
                USING ERRCODE = 'check_violation', CONSTRAINT = 'history_id_immutable';
        END IF;
    END IF;
    RETURN NULL;
END
$$;

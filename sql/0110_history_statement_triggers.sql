-- History written per statement, not per row (issue 13). The per-row triggers of 0010
-- and 0071 cost more than the asset INSERT itself (a plpgsql call, two JSON snapshots
-- and a diff query for every row: a bulk import with history ran at ~2,400 rows/s,
-- without it ~13,700). Statement-level AFTER triggers with transition tables write
-- the same entries with one INSERT ... SELECT per statement.
--
-- What stays the same: one asset_history row per written row, with the same actor,
-- via, comment, action (create / update / delete / restore / hard delete), version,
-- before/after snapshots (same jsonb: every column, the geometry as GeoJSON at full
-- precision) and changed fields (same rule as registry_history_diff). Writes made
-- directly in SQL are recorded as before.
-- What changes: every row written by one statement carries the statement's timestamp
-- (clock time when the statement's rows were all written); within a statement the
-- entries are ordered by their id. Entries of one record are still ordered by id,
-- as-of queries ("latest entry at or before t") keep their meaning.
--
-- Transition tables need one trigger per event, so each table gets three:
-- <table>_insert_history, <table>_update_history, <table>_delete_history.

-- The select list turning a row of `tbl` (under `alias`) into the columns of its
-- snapshot: every column, the geometry replaced by its GeoJSON (to_jsonb's own geometry
-- conversion is ten times the rest of the row, see registry_history_snapshot). The
-- jsonb built from it equals registry_history_snapshot(row).
CREATE FUNCTION registry_history_select_list(tbl regclass, alias text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(
        CASE WHEN a.attname = 'geom' AND a.atttypid = 'geometry'::regtype
             THEN format('ST_AsGeoJSON(%1$I.geom, 15, 0)::jsonb AS geom', alias)
             ELSE format('%I.%I', alias, a.attname) END,
        ', ' ORDER BY a.attnum)
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
$$;

-- What registry_history_diff reports for a created or hard-deleted row (one side
-- NULL): every field but the bookkeeping, sorted the same way. The same for every row
-- of a table, so computed once per statement.
CREATE FUNCTION registry_history_all_fields(tbl regclass) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(array_agg(a.attname::text ORDER BY a.attname::text), '{}')
    FROM pg_attribute a
    WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname::text NOT IN ('version', 'updated_at', 'updated_by', 'created_at', 'created_by')
$$;

-- One trigger function for layer tables and child records.
-- No arguments: a layer table (asset_id = id, layer = the table, version kept).
-- Child records: TG_ARGV[0] names the column holding the parent asset id, TG_ARGV[1]
-- the parent's layer, or '' when the row's own `layer` column says it (inspections).
-- JIT is off for it: the cost estimates of a large statement's INSERT ... SELECT pass
-- the JIT thresholds, and compiling took seconds, longer than the query ran.
CREATE FUNCTION registry_history_statement() RETURNS trigger
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
    expected bigint;
BEGIN
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
            '       $2, $3, $4, $5, %s, b.j, x.j, '
            '       (SELECT COALESCE(array_agg(k ORDER BY k), ''{}'') '
            '        FROM jsonb_object_keys(b.j || x.j) k '
            '        WHERE k NOT IN (''version'', ''updated_at'', ''updated_by'', ''created_at'', ''created_by'') '
            '          AND (b.j -> k) IS DISTINCT FROM (x.j -> k)) '
            'FROM (SELECT r.*, to_jsonb(r) AS j FROM (SELECT %s FROM registry_new_rows n OFFSET 0) r OFFSET 0) x '
            'JOIN (SELECT r.*, to_jsonb(r) AS j FROM (SELECT %s FROM registry_old_rows o OFFSET 0) r OFFSET 0) b '
            'ON b.id = x.id',
            parent_id, layer_expr, ident, action_expr, version_expr, cols_new, cols_old)
        USING CASE WHEN is_child THEN TG_TABLE_NAME::text END, actor_, via_, comment_, at_;
        GET DIAGNOSTICS written = ROW_COUNT;
        SELECT count(*) INTO expected FROM registry_new_rows;
        IF written <> expected THEN
            RAISE EXCEPTION 'the id of a % record cannot change (its history would lose the row)', TG_TABLE_NAME
                USING ERRCODE = 'check_violation', CONSTRAINT = 'history_id_immutable';
        END IF;
    END IF;
    RETURN NULL;
END
$$;

-- The three statement-level triggers of one table (idempotent); `args` are the
-- trigger arguments of a child table (see registry_history_statement).
CREATE FUNCTION registry_attach_statement_history(tbl regclass, args text[] DEFAULT '{}') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    name text := (SELECT relname FROM pg_class WHERE oid = tbl);
    arglist text := (SELECT string_agg(quote_literal(a), ', ') FROM unnest(args) a);
    ev text;
    ref text;
BEGIN
    -- the per-row trigger of 0010/0071, if any
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', name || '_history', tbl);
    FOREACH ev IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
        IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tbl AND tgname = name || '_' || ev || '_history') THEN
            CONTINUE;
        END IF;
        ref := CASE ev
            WHEN 'insert' THEN 'NEW TABLE AS registry_new_rows'
            WHEN 'delete' THEN 'OLD TABLE AS registry_old_rows'
            ELSE 'OLD TABLE AS registry_old_rows NEW TABLE AS registry_new_rows' END;
        EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s REFERENCING %s '
                       'FOR EACH STATEMENT EXECUTE FUNCTION registry_history_statement(%s)',
                       name || '_' || ev || '_history', upper(ev), tbl, ref, COALESCE(arglist, ''));
    END LOOP;
END
$$;

-- Layer tables: registry_attach_layer (0010) calls this, so a seventh layer's
-- migration still gets its history without asking.
CREATE OR REPLACE FUNCTION registry_attach_history(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM registry_attach_statement_history(tbl);
END
$$;

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = 'assets'::regclass LOOP
        PERFORM registry_attach_history(t);
    END LOOP;
END
$$;
SELECT registry_attach_statement_history('water_tests', ARRAY['site_id', 'water_supply']);
SELECT registry_attach_statement_history('inspections', ARRAY['asset_id', '']);

DROP FUNCTION registry_asset_history();
DROP FUNCTION registry_child_history();
DROP FUNCTION registry_inspection_history();

-- A statement naming the parent `assets` fires the statement triggers of `assets`,
-- not of the layer tables whose rows it changes, and its transition tables hold only
-- the shared columns: such a write could not be recorded in full. The per-row triggers
-- recorded it, so refuse it rather than lose it: write to the layer table. (The
-- application never writes through `assets`; inserts there were refused already.)
CREATE FUNCTION registry_refuse_parent_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% through "assets" is not recorded in the history: write to the layer table', TG_OP
        USING ERRCODE = 'feature_not_supported',
              HINT = 'e.g. UPDATE manholes SET ... instead of UPDATE assets SET ...';
END
$$;
CREATE TRIGGER assets_write_through_layer BEFORE UPDATE OR DELETE ON assets
    FOR EACH STATEMENT EXECUTE FUNCTION registry_refuse_parent_write();

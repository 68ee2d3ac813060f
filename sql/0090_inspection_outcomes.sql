-- What an inspection did (issue 10): the attributes of the asset it changed (a
-- manhole's condition; the change itself is an ordinary update of the asset's table, so
-- its history, version and map tiles follow, with the inspection as the reason) and the
-- hazard it raised, a new asset of the layer that declares it takes raised hazards.
ALTER TABLE inspections
    ADD COLUMN changes jsonb,
    ADD COLUMN raised_layer text,
    ADD COLUMN raised_asset_id uuid,
    ADD CONSTRAINT inspections_changes_object CHECK (changes IS NULL OR jsonb_typeof(changes) = 'object'),
    ADD CONSTRAINT inspections_raised_pair CHECK ((raised_layer IS NULL) = (raised_asset_id IS NULL));
CREATE INDEX inspections_raised_idx ON inspections (raised_asset_id) WHERE raised_asset_id IS NOT NULL;

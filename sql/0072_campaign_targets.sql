-- Campaign targets (专项整治年度目标): entered by an admin per year, district (NULL:
-- the whole city) and measure of a layer. Only the target is typed; what was done is
-- always counted from the records (registry/campaigns.py), never stored here. Which
-- measures exist is declared by the layers (LayerSpec.measures) and checked by the
-- application before a target is written.
CREATE TABLE campaign_targets (
    id            bigserial PRIMARY KEY,
    year          integer NOT NULL CONSTRAINT campaign_targets_year_sane CHECK (year BETWEEN 2000 AND 2100),
    district_code text REFERENCES districts (code),
    layer         text NOT NULL,
    measure       text NOT NULL,
    target        numeric NOT NULL CONSTRAINT campaign_targets_positive CHECK (target > 0),
    is_demo       boolean NOT NULL DEFAULT false,
    set_at        timestamptz NOT NULL DEFAULT now(),
    set_by        text NOT NULL DEFAULT registry_actor(),
    CONSTRAINT campaign_targets_one_per_measure UNIQUE NULLS NOT DISTINCT (year, district_code, layer, measure)
);

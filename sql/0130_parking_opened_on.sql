-- The day a parking bay or lot came into use (启用日期, layers/parking.py): the monthly
-- report's "新增泊位 bays added" counts bays by it, not by created_at (the moment the
-- registry recorded the row: a survey of last year's car parks imported today, or a
-- demo seeded today, is not this month's new bays).
--
-- Existing rows are left without a date: nobody knows when they opened, and the
-- figures say how many bays in use lack one (registry/campaigns.py, undated). The
-- history triggers (0110, 0111) snapshot every column of the table as it is when they
-- run, so the new column is in the history from now on without touching them.
ALTER TABLE parking ADD COLUMN opened_on date;
-- the figures select a year's or a month's bays by it
CREATE INDEX parking_opened_on_idx ON parking (opened_on);

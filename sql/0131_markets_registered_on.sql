-- The day a market or stall was registered (登记日期, layers/markets.py): the monthly
-- report's "登记市场摊点 markets and stalls recorded" counts rows by it, not by
-- created_at (the moment the registry recorded the row: a survey of last year's stalls
-- imported today, or a demo seeded today, is not this month's registrations). A market
-- and each of its stalls are rows of their own (an area or a point), each dated.
--
-- Existing rows are left without a date: nobody knows when they were registered, and
-- the figures say how many set-up markets lack one (registry/campaigns.py, undated).
-- The history triggers (0110, 0111) snapshot every column of the table as it is when
-- they run, so the new column is in the history from now on without touching them.
ALTER TABLE markets ADD COLUMN registered_on date;
-- the figures select a year's or a month's registrations by it
CREATE INDEX markets_registered_on_idx ON markets (registered_on);

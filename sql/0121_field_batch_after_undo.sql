-- A field batch that was undone stays as it was (its history says what the undo did);
-- what the same account records later that day on that device opens the next batch of
-- the day (seq 2, 3…), which can be undone on its own.
ALTER TABLE field_batches ADD COLUMN seq integer NOT NULL DEFAULT 1;
ALTER TABLE field_batches DROP CONSTRAINT field_batches_one_per_day;
ALTER TABLE field_batches ADD CONSTRAINT field_batches_one_per_day UNIQUE (account_id, device, day, seq);

-- An import's undo reads the history it wrote (asset_history, via = 'import:<id>')
-- instead of a journal of its own (issue 13). Every import since 0020 wrote both:
-- each import_changes row (created/updated, after_version, the before-state) is the
-- history entry of the same write (action create/update, version, before). The second
-- copy cost about 0.6 s of a 100,000-row import (its rows, two indexes and a foreign
-- key check per row) and was one more place for the same fact. The history holds the
-- entries of every import made so far, so imports committed before this migration can
-- still be undone.
DROP TABLE import_changes;

-- Placeholder for schema version 5, which the branch "anywhere" defines
-- (segments and the lease). The migrator needs versions without gaps, so the
-- branch runs-meta carries this empty file to test its migration 0006.
-- When merging: delete this file and keep the anywhere branch's 0005.
SELECT 1;

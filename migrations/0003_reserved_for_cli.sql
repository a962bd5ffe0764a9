-- Placeholder on the branch 'tamper' only: number 0003 belongs to the branch
-- 'cli'. Migrations must be numbered without gaps, so this empty file lets
-- 0004 apply here; the merge replaces it with the cli branch's 0003.
SELECT 1;

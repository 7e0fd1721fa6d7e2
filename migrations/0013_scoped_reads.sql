-- Hot reads no longer go through plpgsql functions: Database.read (src/platform/db/database.ts)
-- sends each read as one statement that sets the tenant and request tag in a row the read is a
-- LATERAL subquery of, so row-level security applies exactly as before and each filter
-- combination of a list is its own prepared statement with its own plan. Measured with pgbench
-- against the plain statements (npm run bench:sql): article_get ran at 0.74x, article_list at
-- 0.30x, its generic plan unable to use the filter and keyset predicates.
-- tenant_membership (0002) stays: a function that takes the tenant serves the tenancy cache's
-- miss path, which runs outside any tenant scope.

drop function article_get(uuid, text, uuid);
drop function article_list(uuid, text, integer, text, text, uuid, timestamptz, uuid);
drop function subscription_get(uuid, text);
drop type article_view;

-- SECURITY DEFINER functions run as their owner, and `set search_path = public` did not keep the
-- caller's own objects out: PostgreSQL searches pg_temp first for tables and views unless the
-- path names it, so a session's temporary view called `tenants` or `memberships` ran inside
-- user_memberships() with the owner's rights. Every definer function now names pg_temp last,
-- after pg_catalog and public. A new definer function must be written the same way:
--   language sql stable security definer set search_path = pg_catalog, public, pg_temp as $$ ... $$
-- (test/platform/db/definer-hardening.test.ts checks every one in the catalog).
do $$
declare
  fn regprocedure;
begin
  for fn in
    select p.oid::regprocedure from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.prosecdef
  loop
    execute pg_catalog.format('alter function %s set search_path = pg_catalog, public, pg_temp', fn);
  end loop;
end
$$;

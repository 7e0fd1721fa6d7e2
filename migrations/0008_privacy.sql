-- Privacy (GDPR): data exports, and the cross-tenant reads that exports and account deletion need.

-- A user's exports. Global like users and refresh_tokens (a user spans tenants), so no tenant_id
-- and no row-level security: every query of the service is scoped by user_id. The document is the
-- whole export; expires_at is set when it is ready (ready time + EXPORT_TTL_S).
create table exports (
  id uuid primary key default uuid_v7(),
  user_id uuid not null references users (id),
  status text not null default 'pending' check (status in ('pending', 'running', 'ready', 'failed')),
  document jsonb,
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint exports_ready_expires check (status <> 'ready' or expires_at is not null)
);
create index exports_user on exports (user_id);
-- the hourly purge drops the documents of expired exports
create index exports_expiring on exports (expires_at) where document is not null;
-- delete: an anonymized user's exports go (they hold its personal data)
grant select, insert, update, delete on exports to atrium_runtime;

-- The sanctioned paths past row-level security for one user's own rows across tenants, beside
-- user_memberships() of 0002. Each takes a user id and returns only rows about that user: what it
-- wrote (articles), what it did (audit entries where it is the actor), and where it stands in its
-- own tenants (counts only, never who the other members are). SECURITY DEFINER runs them as the
-- owner; the service passes only the authenticated caller's id (or the id a job was given for it).

create function user_authored_articles(p_user_id uuid)
returns table (
  tenant_id uuid, tenant_slug text, tenant_name text, id uuid, title text, body text, status text, tags text[],
  publish_at timestamptz, published_at timestamptz, created_at timestamptz, updated_at timestamptz
)
language sql stable security definer set search_path = public as $$
  select a.tenant_id, t.slug, t.name, a.id, a.title, a.body, a.status, a.tags,
    a.publish_at, a.published_at, a.created_at, a.updated_at
  from articles a join tenants t on t.id = a.tenant_id
  where a.author_id = p_user_id
  order by a.created_at, a.id
$$;
revoke all on function user_authored_articles(uuid) from public;
grant execute on function user_authored_articles(uuid) to atrium_runtime;

create function user_audit_entries(p_user_id uuid)
returns table (
  tenant_id uuid, tenant_slug text, id uuid, action text, object_type text, object_id text,
  changes jsonb, request_id text, created_at timestamptz
)
language sql stable security definer set search_path = public as $$
  select a.tenant_id, t.slug, a.id, a.action, a.object_type, a.object_id, a.changes, a.request_id, a.created_at
  from audit_log a join tenants t on t.id = a.tenant_id
  where a.actor_id = p_user_id
  order by a.created_at, a.id
$$;
revoke all on function user_audit_entries(uuid) from public;
grant execute on function user_audit_entries(uuid) to atrium_runtime;

-- For account deletion: each tenant the user is a member of, its role there and how many members
-- and owners the tenant has (the user included).
create function user_tenant_standing(p_user_id uuid)
returns table (tenant_id uuid, slug text, role text, members integer, owners integer)
language sql stable security definer set search_path = public as $$
  select m.tenant_id, t.slug, m.role,
    (select count(*)::integer from memberships o where o.tenant_id = m.tenant_id),
    (select count(*)::integer from memberships o where o.tenant_id = m.tenant_id and o.role = 'owner')
  from memberships m join tenants t on t.id = m.tenant_id
  where m.user_id = p_user_id
  order by m.tenant_id
$$;
revoke all on function user_tenant_standing(uuid) from public;
grant execute on function user_tenant_standing(uuid) to atrium_runtime;

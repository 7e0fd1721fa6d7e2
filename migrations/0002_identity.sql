-- Identity and tenancy: users, tenants, memberships, refresh tokens.
-- users, tenants and refresh_tokens are global (a user spans tenants); memberships is tenant-owned:
-- tenant_id leads its key and row-level security scopes it to current_tenant_id().

create table users (
  id uuid primary key default uuid_v7(),
  email text not null,
  name text not null,
  password_hash text not null,
  is_staff boolean not null default false,
  last_seen_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- emails compare case-insensitively everywhere; an anonymized user frees its address
create unique index users_email_key on users (lower(email)) where deleted_at is null;
grant select, insert, update on users to atrium_runtime;

create table tenants (
  id uuid primary key default uuid_v7(),
  slug text not null unique check (slug ~ '^[a-z0-9](-?[a-z0-9])*$' and length(slug) between 3 and 40),
  name text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
grant select, insert, update, delete on tenants to atrium_runtime;

create table memberships (
  tenant_id uuid not null references tenants (id) on delete cascade,
  user_id uuid not null references users (id),
  role text not null check (role in ('owner', 'admin', 'editor', 'viewer')),
  created_at timestamptz not null default now(),
  primary key (tenant_id, user_id)
);
create index memberships_user on memberships (user_id);
grant select, insert, update, delete on memberships to atrium_runtime;
alter table memberships enable row level security;
alter table memberships force row level security;
create policy tenant_isolation on memberships
  using (tenant_id = current_tenant_id())
  with check (tenant_id = current_tenant_id());

create table refresh_tokens (
  id uuid primary key default uuid_v7(),
  user_id uuid not null references users (id),
  family_id uuid not null,
  token_hash bytea not null unique,
  tenant_id uuid references tenants (id) on delete set null,
  expires_at timestamptz not null,
  spent_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);
create index refresh_tokens_family on refresh_tokens (family_id);
create index refresh_tokens_user on refresh_tokens (user_id);
grant select, insert, update on refresh_tokens to atrium_runtime;

-- A user's memberships across tenants (GET /v1/me, exports): the one sanctioned cross-tenant read,
-- limited to the rows of the user asked about. SECURITY DEFINER runs it as the owner, past RLS.
create function user_memberships(p_user_id uuid)
returns table (tenant_id uuid, slug text, name text, role text, created_at timestamptz)
language sql stable security definer set search_path = public as $$
  select t.id, t.slug, t.name, m.role, m.created_at
  from memberships m join tenants t on t.id = m.tenant_id
  where m.user_id = p_user_id
  order by m.created_at, t.slug
$$;
revoke all on function user_memberships(uuid) from public;
grant execute on function user_memberships(uuid) to atrium_runtime;

-- The caller's role in one tenant, in one statement that scopes itself (the tenancy cache's miss path).
create function tenant_membership(p_tenant_id uuid, p_user_id uuid, p_tag text)
returns table (role text)
language plpgsql volatile security invoker as $$
begin
  perform set_config('app.tenant_id', p_tenant_id::text, true);
  perform set_config('application_name', p_tag, true);
  return query select m.role from memberships m where m.tenant_id = p_tenant_id and m.user_id = p_user_id;
end
$$;
grant execute on function tenant_membership(uuid, uuid, text) to atrium_runtime;

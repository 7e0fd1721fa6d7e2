-- Articles. Tags are a text[] column with a GIN index (one row read per article, no join, and
-- `tags @> array[$tag]` serves the tag filter); the list filters are served by btree indexes that
-- end in the keyset (created_at, id), newest first.

create table articles (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default uuid_v7(),
  author_id uuid not null references users (id),
  title text not null check (length(title) between 1 and 200),
  body text not null default '' check (length(body) <= 100000),
  status text not null default 'draft' check (status in ('draft', 'scheduled', 'published')),
  tags text[] not null default '{}' check (cardinality(tags) <= 10),
  publish_at timestamptz,
  published_at timestamptz,
  -- milliseconds, exactly what a keyset cursor (a JavaScript date) carries: with microseconds,
  -- rows within the millisecond of a page's last row would be skipped
  created_at timestamptz(3) not null default now(),
  updated_at timestamptz(3) not null default now(), -- rounded like created_at, so a new article's two are equal
  primary key (tenant_id, id)
);
create index articles_recent on articles (tenant_id, created_at desc, id desc);
create index articles_by_status on articles (tenant_id, status, created_at desc, id desc);
create index articles_by_author on articles (tenant_id, author_id, created_at desc, id desc);
create index articles_by_tag on articles using gin (tags);

grant select, insert, update, delete on articles to atrium_runtime;
alter table articles enable row level security;
alter table articles force row level security;
create policy tenant_isolation on articles
  using (tenant_id = current_tenant_id())
  with check (tenant_id = current_tenant_id());

-- The shape every article read returns: the row plus its author's name.
create type article_view as (
  id uuid, title text, body text, status text, tags text[], author_id uuid, author_name text,
  publish_at timestamptz, published_at timestamptz, created_at timestamptz, updated_at timestamptz
);

-- Hot reads: one statement that scopes itself (tenant for RLS, request tag for pg_stat_activity)
-- and then reads, so a GET costs one statement and no transaction. SECURITY INVOKER: row-level
-- security applies exactly as to any query of the runtime role.
create function article_get(p_tenant_id uuid, p_tag text, p_id uuid)
returns setof article_view
language plpgsql volatile security invoker as $$
begin
  perform set_config('app.tenant_id', p_tenant_id::text, true), set_config('application_name', p_tag, true);
  return query
    select a.id, a.title, a.body, a.status, a.tags, a.author_id, u.name, a.publish_at, a.published_at, a.created_at, a.updated_at
    from articles a join users u on u.id = a.author_id
    where a.tenant_id = p_tenant_id and a.id = p_id;
end
$$;

create function article_list(
  p_tenant_id uuid, p_tag text, p_limit integer,
  p_status text, p_tag_filter text, p_author_id uuid,
  p_after_created timestamptz, p_after_id uuid
)
returns setof article_view
language plpgsql volatile security invoker as $$
begin
  perform set_config('app.tenant_id', p_tenant_id::text, true), set_config('application_name', p_tag, true);
  return query
    select a.id, a.title, a.body, a.status, a.tags, a.author_id, u.name, a.publish_at, a.published_at, a.created_at, a.updated_at
    from articles a join users u on u.id = a.author_id
    where a.tenant_id = p_tenant_id
      and (p_status is null or a.status = p_status)
      and (p_tag_filter is null or a.tags @> array[p_tag_filter])
      and (p_author_id is null or a.author_id = p_author_id)
      and (p_after_created is null or (a.created_at, a.id) < (p_after_created, p_after_id))
    order by a.created_at desc, a.id desc
    limit p_limit;
end
$$;

grant execute on function article_get(uuid, text, uuid) to atrium_runtime;
grant execute on function article_list(uuid, text, integer, text, text, uuid, timestamptz, uuid) to atrium_runtime;

import { Type, type Static } from '@sinclair/typebox'
import { Body, ListOf, ListQuery, Text, Timestamp, Uuid } from '../../schemas/common.ts'

export const ArticleStatus = Type.Union([Type.Literal('draft'), Type.Literal('scheduled'), Type.Literal('published')])
export type ArticleStatus = Static<typeof ArticleStatus>

const NullableTimestamp = Type.Union([Timestamp, Type.Null()])

export const Article = Type.Object({
  id: Uuid,
  title: Type.String(),
  body: Type.String(),
  status: ArticleStatus,
  tags: Type.Array(Type.String()),
  author: Type.Object({ id: Uuid, name: Type.String() }),
  publish_at: NullableTimestamp,
  published_at: NullableTimestamp,
  created_at: Timestamp,
  updated_at: Timestamp
})
export type Article = Static<typeof Article>

/** a tag: 1..32 lower-case letters, digits and hyphens, in an article's tags and in the tag filter */
const TAG = { minLength: 1, maxLength: 32, pattern: '^[a-z0-9-]+$' }
/** Tags are merged before the "at most 10" rule applies, so the schema allows room for duplicates. */
const Tags = Type.Array(Text(TAG), { maxItems: 100 })
const Title = Text({ minLength: 1, maxLength: 200 })
const ArticleBody = Type.String({ maxLength: 100_000 })

export const NewArticleBody = Body({ title: Title, body: Type.Optional(ArticleBody), tags: Type.Optional(Tags) })
export const ArticlePatchBody = Type.Object(
  { title: Type.Optional(Title), body: Type.Optional(ArticleBody), tags: Type.Optional(Tags) },
  { additionalProperties: false, minProperties: 1 }
)
export const ScheduleBody = Body({ publish_at: Type.String({ format: 'date-time' }) })

export const ArticleParams = Type.Object({ id: Uuid })
export const ArticleListQuery = Type.Composite([ListQuery, Type.Object({
  status: Type.Optional(ArticleStatus),
  tag: Type.Optional(Type.String(TAG)),
  author_id: Type.Optional(Uuid)
})])
export const ArticleList = ListOf(Article)
export const ArticleEnvelope = Type.Object({ article: Article })

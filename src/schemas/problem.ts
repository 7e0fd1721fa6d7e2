import { Type, type Static } from '@sinclair/typebox'

export const FieldProblem = Type.Object({
  path: Type.String(),
  message: Type.String()
})

/** RFC 9457 problem document, the body of every 4xx and 5xx answer. */
export const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String(),
  request_id: Type.String(),
  detail: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(FieldProblem))
}, { $id: 'Problem', title: 'Problem' })

export type Problem = Static<typeof Problem>
export type FieldProblem = Static<typeof FieldProblem>

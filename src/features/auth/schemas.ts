import { Type } from '@sinclair/typebox'
import { Body, Email, Text } from '../../schemas/common.ts'

/**
 * Passwords are taken as typed: never trimmed (a space is a character of the secret). Capped so
 * that nobody makes the server hash megabytes.
 */
const NewPassword = Type.String({ minLength: 12, maxLength: 1024, description: 'at least 12 characters' })
const Password = Type.String({ minLength: 1, maxLength: 1024 })
const RefreshToken = Text({ minLength: 1, maxLength: 512 })

export const RegisterBody = Body({
  email: Email,
  password: NewPassword,
  name: Text({ minLength: 1, maxLength: 200 })
})

export const LoginBody = Body({
  email: Email,
  password: Password,
  tenant: Type.Optional(Text({ minLength: 1, maxLength: 64, description: 'tenant slug or id: binds the access token to it' }))
})

export const RefreshBody = Body({ refresh_token: RefreshToken })

export const TokenPair = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('Bearer'),
  expires_in: Type.Integer({ description: 'seconds until the access token expires' })
})

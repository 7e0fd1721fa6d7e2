/** A cursor as the API encodes one: base64url of the JSON pair [created_at, id]. */
export const cursorOf = (createdAt: string, id: string): string =>
  Buffer.from(JSON.stringify([createdAt, id])).toString('base64url')

const someId = '01890a5d-ac96-774b-bcce-b302099a8057'

/**
 * Cursors that match the shape of an issued one but name no instant: PostgreSQL refuses the
 * first three (22008) and silently rolls the fourth over; the rest are not what the API encodes.
 */
export const impossibleCursors: ReadonlyArray<{ label: string, cursor: string }> = [
  { label: 'month 13', cursor: cursorOf('2024-13-01T00:00:00.000Z', someId) },
  { label: 'February 30', cursor: cursorOf('2024-02-30T00:00:00.000Z', someId) },
  { label: 'year 0000', cursor: cursorOf('0000-01-01T00:00:00.000Z', someId) },
  { label: 'hour 24', cursor: cursorOf('2024-01-01T24:00:00.000Z', someId) },
  { label: 'six fractional digits', cursor: cursorOf('2024-01-01T00:00:00.123456Z', someId) },
  { label: 'an uppercase id', cursor: cursorOf('2024-01-01T00:00:00.000Z', someId.toUpperCase()) },
  { label: 'padded base64', cursor: `${cursorOf('2024-01-01T00:00:00.000Z', someId)}==` },
  { label: 'JSON with spaces', cursor: Buffer.from(`["2024-01-01T00:00:00.000Z", "${someId}"]`).toString('base64url') }
]

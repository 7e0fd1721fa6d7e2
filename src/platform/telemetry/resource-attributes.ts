/**
 * OTEL_RESOURCE_ATTRIBUTES as attributes: `key=value` pairs separated by commas, values
 * percent-encoded (the OpenTelemetry resource SDK specification). A pair without `=` or with an
 * empty key is skipped, as the specification lets an SDK do; a value that is not valid
 * percent-encoding is taken as written.
 */
export function parseResourceAttributes (setting: string): Record<string, string> {
  const attributes: Record<string, string> = {}
  for (const pair of setting.split(',')) {
    const equals = pair.indexOf('=')
    if (equals <= 0) continue
    const key = pair.slice(0, equals).trim()
    if (key === '') continue
    const raw = pair.slice(equals + 1).trim()
    let value = raw
    try {
      value = decodeURIComponent(raw)
    } catch {}
    attributes[key] = value
  }
  return attributes
}

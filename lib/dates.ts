// Date arithmetic for probes and reports (certificate expiry).

/** Days from now until a certificate's valid_to date (may be negative). */
export function daysUntil(validTo: string, now: number = Date.now()): number {
  const t = Date.parse(validTo)
  return Number.isNaN(t) ? NaN : Math.floor((t - now) / 86_400_000)
}

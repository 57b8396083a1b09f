/** Time formatting in the server's local time zone, as sellers' menu scripts expect. */

const pad = (n: number) => String(n).padStart(2, "0");

/** `YYYY-MM-DD` of the local date. */
export function localDate(d: Date = new Date()): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `YYYY-MM-DD HH:MM:SS` in local time, the format of deleted.log and hosts.log. */
export function localDateTime(d: Date = new Date()): string {
  return `${localDate(d)} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

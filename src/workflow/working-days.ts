/**
 * Working days as an NHS service in England counts them: Monday to Friday in the Europe/London
 * calendar, less the bank holidays the deployment lists. Pure, so the escalation rule is table-tested.
 */

const LONDON = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

/** A calendar date, `YYYY-MM-DD`. */
export type CalendarDate = string;

/** The London date and wall-clock minutes of an instant (milliseconds since the epoch). */
function londonParts(ms: number): { date: CalendarDate; minutes: number } {
  const p = Object.fromEntries(LONDON.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { date: `${p.year}-${p.month}-${p.day}`, minutes: Number(p.hour) * 60 + Number(p.minute) };
}

export function londonDate(ms: number): CalendarDate {
  return londonParts(ms).date;
}

const utcMidnight = (date: CalendarDate) => Date.parse(`${date}T00:00:00Z`);

/**
 * The instant London's day `date` begins. The clocks change at 01:00 UTC, after midnight in London
 * either side of the change, so the offset at 00:00 UTC of that date is the offset at its midnight.
 */
export function londonMidnight(date: CalendarDate): number {
  const atUtcMidnight = utcMidnight(date);
  const { date: there, minutes } = londonParts(atUtcMidnight);
  const offsetMinutes = there === date ? minutes : minutes - 24 * 60;
  return atUtcMidnight - offsetMinutes * 60_000;
}

function addDays(date: CalendarDate, days: number): CalendarDate {
  return new Date(utcMidnight(date) + days * 86_400_000).toISOString().slice(0, 10);
}

export function isWorkingDay(date: CalendarDate, holidays: ReadonlySet<CalendarDate>): boolean {
  const weekday = new Date(utcMidnight(date)).getUTCDay();
  return weekday !== 0 && weekday !== 6 && !holidays.has(date);
}

/**
 * The instant before which something that arrived is more than `days` working days old at `nowMs`:
 * the start of the day `days` working days before today (today itself not counted). A referral that
 * arrived on a Monday with 5 working days allowed is overdue from the Tuesday after next's start;
 * one that arrived on a Saturday, from the following Saturday's (Monday to Friday have all passed).
 */
export function overdueBefore(nowMs: number, days: number, holidays: ReadonlySet<CalendarDate>): number {
  let date = londonDate(nowMs);
  for (let counted = 0; counted < days;) {
    date = addDays(date, -1);
    if (isWorkingDay(date, holidays)) counted++;
  }
  return londonMidnight(date);
}

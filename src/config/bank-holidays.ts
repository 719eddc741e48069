/**
 * Bank holidays in England and Wales, 2026 and 2027, as published at https://www.gov.uk/bank-holidays
 * (substitute days included: 28 December 2026; 27 and 28 December 2027). The default for the config's
 * `sla.holidays`; a deployment lists its own (Scotland and Northern Ireland differ) and adds years as
 * they are announced. The SLA job warns when the year it runs in has none listed.
 */
export const ENGLAND_AND_WALES_BANK_HOLIDAYS: readonly string[] = [
  '2026-01-01', '2026-04-03', '2026-04-06', '2026-05-04', '2026-05-25', '2026-08-31', '2026-12-25', '2026-12-28',
  '2027-01-01', '2027-03-26', '2027-03-29', '2027-05-03', '2027-05-31', '2027-08-30', '2027-12-27', '2027-12-28',
];

/**
 * Statistical disclosure control for the commissioners' reports (issue 10): no published figure may
 * reveal a group of 1 to 7 people, directly or by arithmetic on what else is published.
 *
 * The rule, after the practice of OpenSAFELY, the trusted research environment for NHS England's GP
 * records, whose disclosure control suppresses "small numbers (less than or equal to seven)" before
 * anything leaves it (its "Updated disclosure control guidance", as applied to ehrQL's measures:
 * https://github.com/opensafely-core/ehrql/pull/1746); stricter than the 1-5 of NHS Digital's former
 * rule for Hospital Episode Statistics (https://digital.nhs.uk/data-and-information/data-tools-and-services/data-services/hospital-episode-statistics/change-to-disclosure-control-methodology-for-hes-and-ecds-from-september-2018).
 * OpenSAFELY also rounds to the nearest 5; the issue asks for exact counts otherwise, so this does not.
 * - primary: a count from 1 to 7 is suppressed; 0 is published (nobody is revealed by it);
 * - derived: a figure computed from the records of fewer than 8 people (a mean, an interval, a share,
 *   a median) is suppressed, whatever its own value;
 * - secondary: no sum of people that a reader can compute exactly from the published counts (a total
 *   less the other strata; received less accepted less declined; chains of such differences, across
 *   strata and groups alike) may be from 1 to 7 either: more counts are suppressed, the smallest that
 *   break the computation first, until none is (secondary-suppression.ts does the arithmetic);
 * - differencing: a report narrowed to one practice is suppressed where, subtracted from the report of
 *   all the caller's practices, it would give the other practices' figure as 1 to 7.
 */

/** The largest count that is never published. */
export const SMALL_NUMBER_MAX = 7;
/** The fewest people a derived figure may rest on. */
export const FEWEST_PEOPLE = SMALL_NUMBER_MAX + 1;

/** A published figure, or null where it is suppressed. */
export type Published = number | null;

export const isSmall = (count: number) => count >= 1 && count <= SMALL_NUMBER_MAX;

/** A figure derived from `people` people: suppressed when they are fewer than 8. */
export function publishDerived(people: number, value: number): Published {
  return people < FEWEST_PEOPLE ? null : value;
}

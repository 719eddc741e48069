import type { Figure, GroupFigures, Stratifier } from './social-prescribing.js';
import { ETHNIC_CATEGORIES } from './strata.js';

/** Our canonical Measure (profiles/Measure-social-prescribing.json) and the local codes of its groups and stratifiers. */
export const MEASURE_URL = 'https://signpost.health/fhir/Measure/social-prescribing';
export const GROUP_SYSTEM = 'https://signpost.health/fhir/CodeSystem/sp-report-group';
export const STRATIFIER_SYSTEM = 'https://signpost.health/fhir/CodeSystem/sp-report-stratifier';
/** The 95% confidence interval of a group's or stratum's mean (a Range), beside its measureScore. */
export const INTERVAL_URL = 'https://signpost.health/fhir/StructureDefinition/confidence-interval-95';

// http://hl7.org/fhir/R4/extension-data-absent-reason.html, code "masked" of
// http://terminology.hl7.org/CodeSystem/data-absent-reason: withheld for privacy (disclosure control).
const MASKED: fhir4.Element = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'masked' }] };
const INITIAL_POPULATION = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/measure-population', code: 'initial-population' }] };

/** The unit of each measured group's score (UCUM). */
const UNIT: Partial<Record<GroupFigures['code'], { unit: string; code: string }>> = {
  'days-to-acceptance': { unit: 'days', code: 'd' }, 'days-to-completion': { unit: 'days', code: 'd' }, 'swemwbs-improved': { unit: 'proportion', code: '1' },
};

function population(count: number | null): fhir4.MeasureReportGroupPopulation {
  return count === null ? { code: INITIAL_POPULATION, _count: MASKED } as fhir4.MeasureReportGroupPopulation : { code: INITIAL_POPULATION, count };
}

/** A figure's population and, for a measured group, its score (masked where suppressed) and interval. */
function scored(code: GroupFigures['code'], f: Figure): Pick<fhir4.MeasureReportGroup, 'population' | 'measureScore' | 'extension'> {
  const out: Pick<fhir4.MeasureReportGroup, 'population' | 'measureScore' | 'extension'> = { population: [population(f.count)] };
  if (f.value === undefined) return out;
  const unit = UNIT[code] ?? { unit: 'score', code: '{score}' };
  out.measureScore = f.value === null ? { ...MASKED } : { value: Number(f.value.toFixed(4)), unit: unit.unit, system: 'http://unitsofmeasure.org', code: unit.code };
  if (f.low !== undefined && f.low !== null && f.high !== undefined && f.high !== null) {
    out.extension = [{ url: INTERVAL_URL, valueRange: { low: { value: Number(f.low.toFixed(4)) }, high: { value: Number(f.high.toFixed(4)) } } }];
  }
  return out;
}

function stratumValue(stratifier: Stratifier, value: string): fhir4.CodeableConcept {
  switch (stratifier) {
    case 'gender': return { coding: [{ system: 'http://hl7.org/fhir/administrative-gender', code: value }], text: value };
    case 'ethnicity': return { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland', code: value, display: ETHNIC_CATEGORIES[value] }], text: ETHNIC_CATEGORIES[value] ?? value };
    case 'practice': return { coding: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', code: value }], text: value };
    case 'reason': return value === 'not-coded' ? { text: 'not coded' } : { coding: [{ system: 'http://snomed.info/sct', code: value }], text: value };
    default: return { text: value };
  }
}

export interface ReportScope {
  /** Inclusive calendar dates, YYYY-MM-DD. */
  start: string;
  end: string;
  /** The commissioning organisation the report is for, when a commissioner asked. */
  reporter?: string;
  /** When the figures were computed, an instant. */
  date: string;
}

/** The figures as a FHIR R4 MeasureReport (summary) of our Measure. */
export function measureReport(figures: readonly GroupFigures[], scope: ReportScope): fhir4.MeasureReport {
  return {
    resourceType: 'MeasureReport',
    status: 'complete',
    type: 'summary',
    measure: MEASURE_URL,
    date: scope.date,
    period: { start: scope.start, end: scope.end },
    ...(scope.reporter ? { reporter: { reference: `Organization/${scope.reporter}` } } : {}),
    group: figures.map((g) => ({
      code: { coding: [{ system: GROUP_SYSTEM, code: g.code }] },
      ...scored(g.code, g.total),
      stratifier: g.stratified.map((s) => ({
        code: [{ coding: [{ system: STRATIFIER_SYSTEM, code: s.stratifier }] }],
        stratum: s.strata.map(({ value, figure }) => ({ value: stratumValue(s.stratifier, value), ...scored(g.code, figure) })),
      })),
    })),
  };
}

import fs from 'node:fs';
import path from 'node:path';
import { writeIfChanged } from '../store/server-resources.js';
import type { Store } from '../store/store.js';
import type { InstrumentId } from './scoring.js';

export type OutcomeQuestionnaire = fhir4.Questionnaire & { id: InstrumentId; url: string; version: string };

/** The instruments Signpost scores, by Questionnaire id (DESIGN.md "Outcomes"). */
const INSTRUMENTS: readonly InstrumentId[] = ['swemwbs', 'ons4', 'ucla3'];

/** The outcome Questionnaires of profiles/, by canonical: `url` and `url|version` both find one. */
export class Questionnaires {
  private readonly byCanonical = new Map<string, OutcomeQuestionnaire>();

  constructor(readonly all: readonly OutcomeQuestionnaire[]) {
    for (const q of all) {
      this.byCanonical.set(q.url, q);
      this.byCanonical.set(`${q.url}|${q.version}`, q);
    }
  }

  /** profiles/Questionnaire-<id>.json for each instrument; a missing or mislabelled file stops start-up. */
  static load(profilesDir: string): Questionnaires {
    return new Questionnaires(INSTRUMENTS.map((id) => {
      const file = path.join(profilesDir, `Questionnaire-${id}.json`);
      const q = JSON.parse(fs.readFileSync(file, 'utf8')) as fhir4.Questionnaire;
      if (q.resourceType !== 'Questionnaire' || q.id !== id || !q.url || !q.version) {
        throw new Error(`${file} is not the ${id} Questionnaire with a url and a version`);
      }
      return q as OutcomeQuestionnaire;
    }));
  }

  find(canonical: string | undefined): OutcomeQuestionnaire | undefined {
    return canonical === undefined ? undefined : this.byCanonical.get(canonical);
  }

  /**
   * Makes the store hold each Questionnaire as profiles/ has it, at start-up: written only when
   * absent or different, so restarts add no versions and every instance of a deployment agrees.
   */
  async materialise(store: Store): Promise<void> {
    await store.transaction(async (tx) => {
      for (const q of this.all) await writeIfChanged(tx, q);
    });
  }
}

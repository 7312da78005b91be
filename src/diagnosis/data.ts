/**
 * Rules over the training dataset's profile, joined with the evaluation where there is one: class imbalance that
 * costs the small classes recall, duplicates leaking across splits or carrying conflicting labels, and classes with
 * too few training images for the gap between training and validation accuracy.
 */
import type { Finding } from '../storage/report-manifests.js';
import { pct, round, type Rule } from './diagnose.js';

/** Largest class over smallest from which the classes count as imbalanced (as training's imbalanceThreshold default). */
const IMBALANCE_RATIO = 3;

/**
 * Classes at most 1/IMBALANCE_RATIO of the largest: the ones that make the dataset imbalanced. ("Below half the mean"
 * would miss them when several classes are small: in 300/100/100 no class is below half the mean of 167.)
 */
function minorities(perClass: Record<string, number>): string[] {
  const largest = Math.max(0, ...Object.values(perClass));
  return Object.entries(perClass)
    .filter(([, n]) => n * IMBALANCE_RATIO <= largest)
    .map(([c]) => c);
}

const imbalance: Rule = ({ profile, evaluation, config }) => {
  if (!profile || profile.imbalanceRatio < IMBALANCE_RATIO) return [];
  const small = minorities(profile.counts.perClass);
  const weights = config?.training.classWeights;
  const evidence = {
    imbalanceRatio: round(profile.imbalanceRatio, 2),
    minorityClass: profile.minorityClass,
    minorityCount: profile.counts.perClass[profile.minorityClass] ?? 0,
    majorityClass: profile.majorityClass,
    majorityCount: profile.counts.perClass[profile.majorityClass] ?? 0,
    classWeights: typeof weights === 'string' ? weights : weights ? 'explicit' : null,
  };
  if (evaluation) {
    const recalls = evaluation.perClass.filter((c) => c.recall !== null);
    const meanRecall = recalls.reduce((a, c) => a + c.recall!, 0) / Math.max(1, recalls.length);
    const hurt = recalls.filter((c) => small.includes(c.class) && c.recall! < meanRecall - 0.1).sort((a, b) => a.recall! - b.recall!);
    if (hurt.length > 0) {
      return [
        {
          rule: 'class-imbalance',
          severity: 'warning',
          title: 'Class imbalance costs the small classes their recall',
          detail:
            `The largest class has ${evidence.imbalanceRatio}× the images of the smallest, and the small classes are the ones the model misses: ` +
            hurt.map((c) => `${c.class} recall ${pct(c.recall!)} (${c.support} images)`).join(', ') +
            ` against a mean recall of ${pct(meanRecall)}.`,
          evidence: { ...evidence, meanRecall: round(meanRecall), worstClass: hurt[0].class, worstRecall: round(hurt[0].recall!) },
          nextStep:
            `Train with {"training": {"classWeights": "balanced"}}${evidence.classWeights === 'balanced' ? ' (already on: collect more images of ' + hurt[0].class + ')' : ''}, ` +
            'oversample the small classes, or collect more of their images.',
        },
      ];
    }
  }
  return [
    {
      rule: 'class-imbalance',
      severity: 'info',
      title: 'The classes are imbalanced',
      detail: `The largest class (${profile.majorityClass}) has ${evidence.imbalanceRatio}× the images of the smallest (${profile.minorityClass}); accuracy alone hides how the small classes fare, so read per-class recall.`,
      evidence,
      nextStep: 'Keep classWeights "auto" or "balanced", and judge the model by macro F1 and per-class recall rather than accuracy.',
    },
  ];
};

const leakage: Rule = ({ profile }) => {
  if (!profile) return [];
  const out: Finding[] = [];
  const { crossSplitGroups, removedFromEvaluation, labelConflicts } = profile.leakage;
  if (crossSplitGroups > 0) {
    out.push({
      rule: 'leakage',
      severity: 'info',
      title: 'Duplicates crossed the split and were removed from validation and test',
      detail:
        `${crossSplitGroups} groups of identical or near-identical images sat in both training and validation/test; ${removedFromEvaluation} copies were ` +
        'removed from validation and test at ingestion, so the reported accuracy does not reward memorisation.',
      evidence: { crossSplitGroups, removedFromEvaluation, duplicateImages: profile.duplicates.duplicateImages },
      nextStep: 'Nothing to do for this dataset. If you compare with numbers measured elsewhere, those may be inflated by the same leakage.',
    });
  }
  if (labelConflicts > 0) {
    out.push({
      rule: 'label-conflicts',
      severity: 'warning',
      title: 'The same image carries different labels',
      detail: `${labelConflicts} groups of duplicate images have more than one label: no model can be right on all of them, and they teach it noise.`,
      evidence: { labelConflicts },
      nextStep: 'Look at the conflicting groups in GET /v1/datasets/:id (profile.leakage.labelConflictExamples) and fix or drop them.',
    });
  }
  return out;
};

/**
 * A learning curve read across classes: the least-squares slope of each class's recall on log2 of its training
 * images. Classes differ in difficulty too, so this is evidence, not proof; but when recall climbs steadily with the
 * class's share of the data, the small classes are data-limited. Null with fewer than 3 classes or counts that
 * hardly differ (less than 1.5× between the smallest and the largest).
 */
export function recallSlopePerDoubling(perClass: { class: string; recall: number | null }[], train: Record<string, number>): number | null {
  const points = perClass.filter((c) => c.recall !== null && (train[c.class] ?? 0) > 0).map((c) => [Math.log2(train[c.class]), c.recall!] as const);
  if (points.length < 3) return null;
  const xs = points.map((p) => p[0]);
  if (Math.max(...xs) - Math.min(...xs) < Math.log2(1.5)) return null;
  const mx = xs.reduce((a, x) => a + x, 0) / xs.length;
  const my = points.reduce((a, p) => a + p[1], 0) / points.length;
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0) / sxx;
}

const littleData: Rule = ({ profile, members, evaluation }) => {
  if (!profile) return [];
  const train = profile.counts.perSplit.train;
  const [smallestClass, smallest] = Object.entries(train).reduce((a, b) => (b[1] < a[1] ? b : a), ['', Infinity] as [string, number]);
  if (!Number.isFinite(smallest)) return [];
  const slope = evaluation ? recallSlopePerDoubling(evaluation.perClass, train) : null;
  const dataLimited = slope !== null && slope >= 0.02;
  if (smallest >= 200 && !dataLimited) return [];
  const last = (members ?? []).flatMap((m) => m.history.slice(-1)).filter((e) => e.valAccuracy !== null);
  const gap = last.length ? last.reduce((a, e) => a + e.accuracy - e.valAccuracy!, 0) / last.length : null;
  const severe = smallest < 50 || (gap !== null && gap > 0.1) || (slope !== null && slope >= 0.05);
  return [
    {
      rule: 'too-little-data',
      severity: severe ? 'warning' : 'info',
      title: 'Some classes have few training images',
      detail:
        `The smallest class (${smallestClass}) has ${smallest} training images` +
        (gap !== null ? `, and training accuracy ends ${pct(gap)} above validation accuracy` : '') +
        (dataLimited
          ? `; across classes, recall rises ${pct(slope)} per doubling of a class's training images, so the smaller classes are data-limited.`
          : '; with this little data, validation accuracy usually keeps rising as images are added.'),
      evidence: {
        smallestClass,
        smallestTrainCount: smallest,
        trainImages: profile.counts.splitTotals.train,
        trainValGap: gap === null ? null : round(gap),
        recallSlopePerDoubling: slope === null ? null : round(slope),
      },
      nextStep: `Collect more images, starting with ${smallestClass}; until then use strong augmentation and a small architecture.`,
    },
  ];
};

export const dataRules: Rule[] = [imbalance, leakage, littleData];

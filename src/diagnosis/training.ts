/**
 * Rules over the run's learning curves: overfitting, underfitting, a learning rate too high (divergence,
 * oscillation) or too low (slow monotone decrease), and early stopping that gave up too soon. A pattern counts when
 * at least half of the members with enough history show it, so one unlucky seed does not raise a finding.
 */
import type { MemberRecord } from '../storage/training-manifests.js';
import { pct, round, type DiagnosisInput, type Rule } from './diagnose.js';

type Epoch = MemberRecord['history'][number];
interface Validated extends Epoch {
  valLoss: number;
  valAccuracy: number;
}

const finished = (input: DiagnosisInput) => (input.members ?? []).filter((m) => m.history.length > 0);
const validated = (m: MemberRecord): Validated[] => m.history.filter((e): e is Validated => e.valLoss !== null && e.valAccuracy !== null);
const mostOf = <T>(hits: T[], of: number) => of > 0 && hits.length * 2 >= of;
const argmin = (xs: number[]) => xs.reduce((best, x, i) => (x < xs[best] ? i : best), 0);
/** A learning rate for a sentence: 3 significant digits, so 1e-4 × 3 reads 0.0003 and not 0.00030000000000000003. */
const rate = (x: number) => String(Number(x.toPrecision(3)));

/** Validation loss rising from its minimum while the training loss keeps falling, or a growing accuracy gap. */
const overfitting: Rule = (input) => {
  const candidates = finished(input).map(validated).filter((h) => h.length >= 3);
  const hits = candidates.flatMap((h) => {
    const best = argmin(h.map((e) => e.valLoss));
    const last = h[h.length - 1];
    const rise = (last.valLoss - h[best].valLoss) / Math.max(h[best].valLoss, 1e-9);
    const gap = last.accuracy - last.valAccuracy;
    const gapAtBest = h[best].accuracy - h[best].valAccuracy;
    const lossDiverges = best < h.length - 1 && rise > 0.1 && last.loss < h[best].loss;
    const gapGrows = gap > 0.08 && gap - gapAtBest > 0.04;
    // Memorisation: the training set is fitted almost perfectly (loss a fifth of validation's or less) while
    // validation accuracy stays well below it, even if validation loss has not turned up yet.
    const memorises = gap > 0.1 && last.accuracy >= 0.98 && last.loss * 5 <= last.valLoss;
    return lossDiverges || gapGrows || memorises ? [{ best: h[best], last, rise, gap, memorises }] : [];
  });
  if (!mostOf(hits, candidates.length)) return [];
  const w = hits.reduce((a, b) => (b.gap > a.gap ? b : a));
  const restored = input.config?.training.earlyStopping.restoreBestWeights ?? false;
  // A member counts for either sign, so the sentence names only what this one shows (a rise, a gap or both).
  const seen = [
    ...(w.best !== w.last && w.rise > 0
      ? [`the validation loss rose ${pct(w.rise)} from its minimum in epoch ${w.best.epoch}${w.last.loss < w.best.loss ? ' while the training loss kept falling' : ''}`]
      : []),
    ...(w.gap > 0 ? [`training accuracy ${pct(w.last.accuracy)} ends ${pct(w.gap)} above validation accuracy ${pct(w.last.valAccuracy)}`] : []),
    ...(w.memorises ? [`the training loss ${w.last.loss.toFixed(3)} is ${(w.last.valLoss / Math.max(w.last.loss, 1e-9)).toFixed(0)}× below the validation loss`] : []),
  ];
  return [
    {
      rule: 'overfitting',
      severity: w.gap > 0.15 ? 'critical' : 'warning',
      title: 'The model memorises the training set',
      detail:
        `In ${hits.length} of ${candidates.length} members ${seen.join(', and ')}.` +
        (restored ? ` Early stopping restored the weights of the best epoch, so the model itself is the epoch-${w.best.epoch} one.` : ''),
      evidence: {
        membersAffected: hits.length,
        members: candidates.length,
        bestValLossEpoch: w.best.epoch,
        bestValLoss: round(w.best.valLoss),
        lastValLoss: round(w.last.valLoss),
        trainAccuracy: round(w.last.accuracy),
        valAccuracy: round(w.last.valAccuracy),
        gap: round(w.gap),
        trainLoss: round(w.last.loss),
      },
      nextStep:
        'Regularise: turn on augmentation (e.g. {"augmentation": {"flip": true, "rotation": 10, "shift": 0.1}}), raise dropout or l2 in the ' +
        'architecture, keep early stopping with restoreBestWeights, or add training data.',
    },
  ];
};

/** Training and validation accuracy both low and no longer improving. */
const underfitting: Rule = (input) => {
  const candidates = finished(input).map(validated).filter((h) => h.length >= 4);
  const chance = 1 / Math.max(2, input.classes.length);
  const hits = candidates.filter((h) => {
    const last = h[h.length - 1];
    const third = h[Math.floor((h.length * 2) / 3) - 1];
    const perEpoch = (last.accuracy - third.accuracy) / Math.max(1, last.epoch - third.epoch);
    const low = last.accuracy < chance + 0.7 * (1 - chance);
    return low && Math.abs(last.accuracy - last.valAccuracy) < 0.05 && perEpoch < 0.005;
  });
  if (!mostOf(hits, candidates.length)) return [];
  const last = hits[0][hits[0].length - 1];
  return [
    {
      rule: 'underfitting',
      severity: 'warning',
      title: 'The model is too weak for the task, or trains too little',
      detail:
        `Training accuracy ${pct(last.accuracy)} and validation accuracy ${pct(last.valAccuracy)} are both low and have stopped improving ` +
        `(${hits.length} of ${candidates.length} members); the model cannot even fit the data it sees.`,
      evidence: { membersAffected: hits.length, members: candidates.length, trainAccuracy: round(last.accuracy), valAccuracy: round(last.valAccuracy), epochs: last.epoch },
      nextStep: 'Use a larger architecture (preset "medium"), lower dropout and l2, train more epochs, or raise the learning rate a little.',
    },
  ];
};

/** A diverged member, or a training loss that goes up as often as down. */
const learningRateTooHigh: Rule = (input) => {
  const members = input.members ?? [];
  const lr = input.config?.training.learningRate;
  const diverged = members.filter((m) => m.error?.type === 'training-diverged');
  if (diverged.length > 0) {
    return [
      {
        rule: 'learning-rate-too-high',
        severity: 'critical',
        title: 'Training diverged: the learning rate is too high',
        detail: `${diverged.length} of ${members.length} members diverged. ${diverged[0].error!.detail}`,
        evidence: { membersDiverged: diverged.length, members: members.length, learningRate: lr ?? null },
        nextStep: `Lower the learning rate 10×${lr ? ` (to ${rate(lr / 10)})` : ''}; for Adam 1e-3 is a safe start. A warm-up schedule also helps.`,
      },
    ];
  }
  const candidates = finished(input).filter((m) => m.history.length >= 4);
  const hits = candidates.flatMap((m) => {
    const losses = m.history.map((e) => e.loss);
    const rises = losses.slice(1).filter((l, i) => l > losses[i] * 1.05).length;
    const accs = m.history.map((e) => e.valAccuracy).filter((a): a is number => a !== null);
    const swings = accs.slice(2).filter((a, i) => Math.sign(a - accs[i + 1]) * Math.sign(accs[i + 1] - accs[i]) < 0 && Math.abs(a - accs[i + 1]) > 0.03).length;
    return rises * 3 >= losses.length - 1 || swings * 2 >= Math.max(1, accs.length - 2) ? [{ rises, swings, epochs: losses.length }] : [];
  });
  if (!mostOf(hits, candidates.length)) return [];
  return [
    {
      rule: 'learning-rate-too-high',
      severity: 'warning',
      title: 'The loss oscillates: the learning rate is probably too high',
      detail:
        `In ${hits.length} of ${candidates.length} members the training loss rose by more than 5% in ${hits[0].rises} of ${hits[0].epochs - 1} epochs, ` +
        `or validation accuracy swung up and down by more than 3 points (${hits[0].swings} swings).`,
      evidence: { membersAffected: hits.length, members: candidates.length, lossRises: hits[0].rises, accuracySwings: hits[0].swings, learningRate: lr ?? null },
      nextStep: 'Lower the learning rate 3×, or use a cosine schedule ({"schedule": {"type": "cosine"}}) so late epochs take smaller steps.',
    },
  ];
};

/** A training loss that falls every epoch, but slowly, with accuracy still low. */
const learningRateTooLow: Rule = (input) => {
  const candidates = finished(input).filter((m) => m.history.length >= 4);
  const hits = candidates.filter((m) => {
    const losses = m.history.map((e) => e.loss);
    const monotone = losses.slice(1).every((l, i) => l < losses[i]);
    const drop = (losses[0] - losses[losses.length - 1]) / Math.max(losses[0], 1e-9);
    const lastStep = (losses[losses.length - 2] - losses[losses.length - 1]) / Math.max(losses[losses.length - 2], 1e-9);
    return monotone && drop < 0.25 && lastStep > 0.01 && m.history[m.history.length - 1].accuracy < 0.9;
  });
  if (!mostOf(hits, candidates.length)) return [];
  const h = hits[0].history;
  const lr = input.config?.training.learningRate;
  return [
    {
      rule: 'learning-rate-too-low',
      severity: 'warning',
      title: 'Training creeps: the learning rate is probably too low',
      detail: `The training loss fell every epoch but only from ${h[0].loss.toFixed(3)} to ${h[h.length - 1].loss.toFixed(3)} in ${h.length} epochs, and was still falling.`,
      evidence: { membersAffected: hits.length, members: candidates.length, firstLoss: round(h[0].loss), lastLoss: round(h[h.length - 1].loss), epochs: h.length, learningRate: lr ?? null },
      nextStep: `Raise the learning rate 3×${lr ? ` (to ${rate(lr * 3)})` : ''} or train for more epochs.`,
    },
  ];
};

/** Early stopping that fired early with a small patience while validation loss had been falling steeply. */
const earlyStoppingTooEarly: Rule = (input) => {
  const es = input.config?.training.earlyStopping;
  const epochs = input.config?.training.epochs;
  if (!es?.enabled || !epochs) return [];
  // Members that ran every epoch count against the pattern too: one early-stopped seed of five is not a finding.
  const trained = finished(input);
  const stopped = trained.filter((m) => m.metrics?.stopReason === 'early-stopping');
  const hits = stopped.flatMap((m) => {
    const h = validated(m);
    if (h.length === 0) return [];
    // Epochs are numbered from 1 in the history, as bestEpoch is; argmin gives an index.
    const best = m.metrics?.bestEpoch ?? h[argmin(h.map((e) => e.valLoss))].epoch;
    const before = h.filter((e) => e.epoch <= best).slice(-4);
    if (before.length < 2) return [];
    const perEpoch = (before[0].valLoss - before[before.length - 1].valLoss) / Math.max(before[0].valLoss, 1e-9) / (before.length - 1);
    return es.patience <= 3 && h.length < 0.6 * epochs && perEpoch > 0.02 ? [{ ran: h.length, best, perEpoch }] : [];
  });
  if (hits.length === 0 || !mostOf(hits, trained.length)) return [];
  return [
    {
      rule: 'early-stopping-too-early',
      severity: 'warning',
      title: 'Early stopping gave up while the model was still improving',
      detail:
        `${hits.length} of ${trained.length} members stopped after ${hits[0].ran} of ${epochs} epochs with patience ${es.patience}, although validation loss had been ` +
        `falling ${pct(hits[0].perEpoch)} per epoch before its best epoch: one noisy epoch was enough to stop them.`,
      evidence: { membersAffected: hits.length, members: trained.length, patience: es.patience, epochsRun: hits[0].ran, epochs, valLossFallPerEpoch: round(hits[0].perEpoch) },
      nextStep: 'Raise earlyStopping.patience to 5–10, or set minDelta so tiny changes do not count; a larger validation split makes the curve less noisy.',
    },
  ];
};

export const trainingRules: Rule[] = [learningRateTooHigh, overfitting, underfitting, learningRateTooLow, earlyStoppingTooEarly];

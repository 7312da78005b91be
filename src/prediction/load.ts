/** Reading a registered ensemble's members from storage as inference plans (serving and report jobs share this). */
import { deserializeModel } from '../models/serialize.js';
import { keys } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import type { ModelManifest } from '../storage/training-manifests.js';
import { planFromLayers, type MemberPlan } from './plan.js';

/** One plan per member, in member order; throws when a member's files are missing. */
export async function loadMemberPlans(storage: Storage, model: ModelManifest): Promise<MemberPlan[]> {
  return Promise.all(
    model.members.map(async (m) => {
      const [json, weights] = await Promise.all([
        storage.getBytes(keys.modelMember(model.tenant, model.id, m.index, 'model.json')),
        storage.getBytes(keys.modelMember(model.tenant, model.id, m.index, 'weights.bin')),
      ]);
      if (!json || !weights) throw new Error(`model ${model.id} member ${m.index} is missing from storage`);
      const layers = await deserializeModel({ modelJson: JSON.parse(json.toString('utf8')), weights });
      try {
        return { ...planFromLayers(layers), testTimeFlip: model.config.augmentation.testTimeFlip };
      } finally {
        layers.dispose();
      }
    }),
  );
}

import { TAG } from '../core/tags.js';
import { CandidateNotFound } from '../errors.js';
import type { ImageStore } from '../ports.js';
import type { Build, Candidate } from '../schemas.js';

/**
 * State `FindCandidateImage`: the image the bake produced, found by its ownership tags
 * (`factory:pipeline`, `factory:build-id`). The newest wins if a retried bake registered two.
 * @returns `$.candidate` `{ imageId, name, createdAt, snapshotIds, sbom? }` (`sbom`: the
 *   `factory:sbom` tag's URI, absent when the bake produced none; InspectCandidate refuses that).
 * @throws CandidateNotFound when no available image carries the build id.
 */
export async function findCandidateImage(
  input: { build: Build },
  ports: { images: ImageStore },
): Promise<Candidate> {
  const { build } = input;
  const images = await ports.images.findImages({
    [TAG.pipeline]: build.pipeline,
    [TAG.buildId]: build.buildId,
  });
  const newest = images.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))[0];
  if (!newest) throw new CandidateNotFound(build.buildId);
  return {
    imageId: newest.imageId,
    name: newest.name,
    createdAt: newest.createdAt,
    snapshotIds: newest.snapshotIds,
    ...(newest.tags[TAG.sbom] ? { sbom: newest.tags[TAG.sbom] } : {}),
  };
}

/**
 * The AWS wall-clock model (`npm run bench:aws-model`) times every state a successful execution
 * enters: a Task state added to the ASL without a modelled duration must fail here, not only when
 * someone next runs the benchmark.
 */
import { describe, expect, it } from 'vitest';
import { loadDefinition, pollLoops } from '#statemachines/definition.js';
import { aslWaitSeconds, timeline, visitedStates } from '../../../bench/aws-model-path.js';

describe('AWS wall-clock model', () => {
  it('has a duration for every state of a successful execution, and puts promotion before its end', async () => {
    // Prepare
    const definition = loadDefinition();
    const waits = aslWaitSeconds(definition);
    const visited = await visitedStates(2, 2);

    // Act
    const result = timeline(visited, 'expected', waits, Object.values(pollLoops()));

    // Assess
    expect(visited).toEqual(expect.arrayContaining(['BakeImage', 'PromoteImage', 'PipelineSucceeded']));
    expect(result.transitions).toBe(visited.length);
    expect(result.bakeSeconds).toBeGreaterThan(0);
    expect(result.promoted).toBeGreaterThan(result.bakeSeconds);
    expect(result.end).toBeGreaterThanOrEqual(result.promoted);
  }, 60_000);
});

/**
 * The standard middleware chain of a factory Lambda:
 * `injectLambdaContext` → `captureLambdaHandler` → `logMetrics` → `parser` (zod, safe-parse), handler last.
 *
 * Parsing is a safe-parse so that a schema failure becomes our named `InvalidInput` error, thrown
 * from the handler (Step Functions' Catch matches `InvalidInput`) while the other middlewares
 * still flush logs, metrics and the trace segment.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddyfiedHandler } from '@middy/core';
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { requireValid, type SafeParsed } from '../validation.js';
import { logger, metrics, tracer } from './index.js';

/**
 * Build a typed Lambda handler that parses its event with `schema` and calls `fn`.
 * @throws InvalidInput when the event does not match `schema` (message lists each problem).
 */
export const lambdaHandler = <S extends z.ZodType, Out>(
  schema: S,
  fn: (input: z.output<S>, context: Context) => Promise<Out>,
): MiddyfiedHandler<unknown, Out> =>
  middy<unknown, Out>()
    .use(injectLambdaContext(logger, { clearState: true }))
    .use(captureLambdaHandler(tracer))
    .use(logMetrics(metrics))
    .use(parser({ schema, safeParse: true }))
    .handler(async (event, context) => fn(requireValid(event as SafeParsed<z.output<S>>), context));

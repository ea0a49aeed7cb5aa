/**
 * Request validation with the same TypeBox compiler that checks protocol messages, instead of
 * fastify's default Ajv: bodies are checked as sent (no type coercion, no silently dropped
 * fields); query strings and path parameters, which are text by nature, are converted first.
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler } from 'fastify';
import { ApiError, ErrorCode } from '../errors.js';

/** Field errors reported per request, at most. */
const MAX_FIELD_ERRORS = 20;

export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  return (input: unknown) => {
    const value = httpPart === 'body' ? input : Value.Convert(schema, input);
    if (check.Check(value)) return { value };
    const errors = [...check.Errors(value)].slice(0, MAX_FIELD_ERRORS).map((error) => ({
      field: `${httpPart ?? 'body'}${error.path.replaceAll('/', '.')}`,
      message: error.message,
    }));
    const first = errors[0];
    return {
      error: new ApiError(
        ErrorCode.VALIDATION_FAILED,
        first === undefined ? `invalid ${httpPart}` : `${first.field}: ${first.message}`,
        errors,
      ),
    };
  };
};

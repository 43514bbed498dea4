/**
 * Types for asl-validator 4.0.0, which ships JavaScript only (`dist/src/validator.js`, CommonJS
 * `module.exports = function validator(definition, opts)`).
 * Shape from https://github.com/ChristopheBougere/asl-validator#readme.
 * Note: the validator writes `QueryLanguage` into every state it visits; pass it a copy.
 */
declare module 'asl-validator' {
  interface ValidationOptions {
    /** Validate JSONPath / JSONata expressions. Default true. */
    checkPaths?: boolean;
    /** Validate the ARN syntax of Task `Resource` fields. Default true. */
    checkArn?: boolean;
  }
  interface ValidationResult {
    isValid: boolean;
    errors: ReadonlyArray<{ 'Error code': string; Message: string }>;
    errorsText: (separator?: string) => string;
  }
  function validator(definition: unknown, options?: ValidationOptions): ValidationResult;
  export = validator;
}

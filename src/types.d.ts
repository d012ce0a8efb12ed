// Templates are bundled into the CGI program as text (esbuild's text loader), so it reads no file per request.
declare module '*.html' {
  const text: string;
  export default text;
}

/**
 * Set by scripts/build.js: true only in the test build (dist/test/), whose daemon has the fault-injection queries;
 * false elsewhere, so that esbuild drops them from every other bundle. Undefined when tests run the sources.
 * Test `typeof ROQ_TEST_BUILD !== 'boolean' || ROQ_TEST_BUILD` where it is used: esbuild folds that only in place.
 */
declare const ROQ_TEST_BUILD: boolean | undefined;

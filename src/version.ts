/** roq's release, from package.json; scripts/build.js writes it into the bundles. Unbundled (tests): 'dev'. */
declare const ROQ_VERSION: string | undefined;
export const VERSION: string = typeof ROQ_VERSION === 'string' ? ROQ_VERSION : 'dev';

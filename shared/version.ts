// The program's version; the bundler replaces __QZB_VERSION__ with package.json's version.
declare const __QZB_VERSION__: string | undefined;
export const VERSION: string = typeof __QZB_VERSION__ === 'string' ? __QZB_VERSION__ : '0.0.0-dev';

// Templates are bundled into the CGI program as text (esbuild's text loader), so it reads no file per request.
declare module '*.html' {
  const text: string;
  export default text;
}

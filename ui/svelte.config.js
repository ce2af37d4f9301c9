// Defaults are right for Chairside; the file exists so tools don't guess.
export default {};

export { readPrivateFile, writePrivateFile } from "./own-file.ts";
export {
  fixModesSync,
  prepareSqliteFile,
  privateDir,
  privateDirMode,
  privateDirSync,
  privateFileMode,
  privateTree,
} from "./private-files.ts";

export {
  fixModesSync,
  prepareSqliteFile,
  privateDir,
  privateDirMode,
  privateDirSync,
  privateFileMode,
  privateTree,
} from "./private-files.ts";

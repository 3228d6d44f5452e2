export { HUB, hubEntry, imagenetClasses, isHubName, type HubEntry } from './table.js';
export { cachedPath, downloadUrl, fetchHub, HubError, kestrelHome, type DownloadOptions } from './download.js';

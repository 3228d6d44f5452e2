export { HUB, hubEntry, imagenetClasses, isHubName, type HubEntry } from './table.js';
export { cachedPath, downloadUrl, fetchEntry, fetchHub, HubError, kestrelHome, type DownloadOptions } from './download.js';

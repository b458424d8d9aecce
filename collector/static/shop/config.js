/* Where the demo shop sends its events. Edit, or set these before this file runs. */
window.FOOTFALL_COLLECTOR = window.FOOTFALL_COLLECTOR || location.origin;   // collector base URL
window.FOOTFALL_WRITE_KEY = window.FOOTFALL_WRITE_KEY || "demo-write-key";   // the site's public write key

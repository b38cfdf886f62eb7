// Tracker: the private HTTP tracker (announce, scrape, allowlist with live reload, metrics).

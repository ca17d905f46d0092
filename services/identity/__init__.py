"""Who is who: WeChat users and their following state, binding and its locks, personal data, staff accounts."""

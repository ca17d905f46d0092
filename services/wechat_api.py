"""Placeholder until the API client lands (being written now)."""


class WeChatApi:
    def __init__(self, appid, secret, api_base, redis, timeout):
        self.appid, self.secret, self.api_base, self.redis, self.timeout = appid, secret, api_base, redis, timeout

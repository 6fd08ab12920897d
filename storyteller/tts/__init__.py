"""Read-aloud: stories are spoken sentence by sentence while they stream.

sentences.py splits streamed text into sentences; speakable.py turns a sentence into what the
speech engine should read (pinyin for Chinese on espeak-ng); worker.py runs pyttsx3 safely in
its own process; readaloud.py ties them together for the UI and the CLI.
"""

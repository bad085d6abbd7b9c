"""One module per outside system: Vertex AI Veo, HeyGen, Cloud Storage, ffmpeg, and URL fetching."""

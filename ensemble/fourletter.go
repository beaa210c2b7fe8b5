package ensemble

func (c *conn) fourLetterWord(word string) {
	if word == "ruok" {
		c.enqueue([]byte("imok"))
	}
	c.flushAndClose()
}
